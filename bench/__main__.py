"""``python -m bench``: run the benchmark."""

import sys

from bench.cli import main

sys.exit(main())
