import os


def handle(req):
    return "who=" + os.environ.get("WHO", "")
