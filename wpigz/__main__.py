import sys

from .command._launch import main

sys.exit(main())
