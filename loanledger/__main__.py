"""`python -m loanledger`: the same command as the `loanledger` console script."""

import sys

from .cli import main

sys.exit(main())
