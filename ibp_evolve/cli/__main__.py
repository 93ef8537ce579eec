import sys

from ibp_evolve.cli.main import main

sys.exit(main())
