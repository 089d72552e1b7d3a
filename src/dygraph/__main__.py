from dygraph.cli import main

main()
