"""Every subprocess a test starts imports `tracer` from this checkout, whatever its working directory.

Without this, `python3 -m tracer` run from a temporary directory would import whatever checkout
`pip install -e` last pointed at, and a test could pass against code it never ran.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])
