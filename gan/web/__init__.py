"""The local page that makes faces from a trained generator: the Flask app and its JSON
and PNG API, the face maker behind it, and the page itself (page/)."""
