import os
import sys

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
