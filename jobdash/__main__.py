import sys

from jobdash.cli import main

sys.exit(main())
