from wrapper.cli import main

main()
