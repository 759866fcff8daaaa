"""``python -m netlogpush.siem [ROOT]``: write the dashboards under ROOT/dashboards (default .)."""

from __future__ import annotations

import sys
from pathlib import Path

from netlogpush.siem.files import write_all

if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path()
    for path in write_all(root / "dashboards"):
        print(path)
