"""`python -m services.devstack`: run the whole stack locally (see runner.py)."""

from services.devstack.runner import main

raise SystemExit(main())
