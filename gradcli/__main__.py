"""``python -m gradcli`` is the same as the ``gradcli`` command."""

import sys

from .cli import main

sys.exit(main())
