from acegit.cli import main

main()
