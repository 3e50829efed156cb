#!/usr/bin/python3
"""`mc ready local`, stood in: exit 0 when the local server is ready."""
import sys
import urllib.request

if sys.argv[1:] != ["ready", "local"]:
    sys.exit("stand-in mc: only `mc ready local` is supported")
try:
    urllib.request.urlopen("http://127.0.0.1:9000/minio/health/ready", timeout=3)
except OSError as e:
    sys.exit("not ready: %s" % e)
