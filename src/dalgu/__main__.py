from dalgu.cli import main

main()
