"""Registers every command module on the app (one import per command module, kept sorted)."""

import acegit.cli.add  # noqa: F401  (issue 2)
import acegit.cli.diff  # noqa: F401  (issue 6)
import acegit.cli.export  # noqa: F401  (issue 8)
import acegit.cli.hook  # noqa: F401  (issue 7)
import acegit.cli.install  # noqa: F401  (issue 7)
import acegit.cli.merge_driver  # noqa: F401  (issue 7)
import acegit.cli.new  # noqa: F401  (issue 2)
import acegit.cli.render  # noqa: F401  (issue 5)
import acegit.cli.status  # noqa: F401  (issue 2)
import acegit.cli.trace  # noqa: F401  (issue 8)
