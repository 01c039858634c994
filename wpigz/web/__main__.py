"""python -m wpigz.web: serve the in-browser page (see wpigz/web/__init__.py)."""

import sys

from . import main

sys.exit(main())
