import os
import sys

from harness import distributed
from harness.cli import main

code = main()
if distributed.launched():
    # Under torchrun the ranks have already left the process group and rank 0 has written every file.
    # Interpreter teardown can still abort (SIGABRT, "terminate called without an active exception") in
    # a thread torch.distributed leaves behind, about one run in ten here, turning a finished run into a
    # failure: end the process directly, output flushed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
