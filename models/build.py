"""Build an adaptive .dyce package from any PyTorch classifier and images.

    /usr/bin/python3 models/build.py --data DIR --backbone SPEC [--weights FILE] --out OUT.dyce [options]

DIR is an image folder (DIR/train/<class>/*, DIR/test/<class>/*, optional
DIR/val) or an IDX directory; SPEC is torchvision:NAME or FILE.py:FUNCTION.
See `--help` and docs/MODELS.md. The code is models/dyce_build/.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dyce_build.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
