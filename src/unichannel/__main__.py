from unichannel.cli import main

main()
