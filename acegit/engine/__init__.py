"""The model runtime (torch); `registry` and `request` are the torch-free parts that status and the CLI may import.

Importing the package pins the CPU numerics (`numerics.pin`), before any of its modules can start torch's kernels.
"""

from acegit.engine import numerics

numerics.pin()
