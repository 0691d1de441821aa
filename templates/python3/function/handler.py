def handle(req):
    """Handles one request.

    req is the request body as text; the return value is the answer.
    """
    return "Hello! You said: " + req
