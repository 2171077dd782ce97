"""``python -m coaching …``: the same command as the ``coaching`` console script."""

import sys

from coaching.cli import main

sys.exit(main())
