"""The model runtime (torch); `registry` and `request` are the torch-free parts that status and the CLI may import."""
