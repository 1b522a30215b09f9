from qtcompute.cli import main

main()
