from acegit.cli import run

run()
