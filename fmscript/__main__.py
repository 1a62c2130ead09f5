import sys

from fmscript.cli import main

sys.exit(main())
