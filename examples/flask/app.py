"""An existing Flask application put behind kunci (examples/nginx/kunci.conf).

nginx asks kunci about every request and passes who is logged in as X-Kunci-User,
X-Kunci-Sub and X-Kunci-Scopes; nginx always sets them, so the app may trust them as long as
it is reachable only through nginx (bind it to 127.0.0.1). Nothing of Flask-Login,
Flask-Session or Flask-WTF is needed for this.

    pip install flask && flask --app app run --port 5000
"""

from functools import wraps

from flask import Flask, abort, request

app = Flask(__name__)


def current_user():
    """The kunci user of this request, or None (never happens behind the proxy)."""
    name = request.headers.get("X-Kunci-User")
    if not name:
        return None
    return {
        "name": name,
        "sub": request.headers.get("X-Kunci-Sub", ""),
        "scopes": request.headers.get("X-Kunci-Scopes", "").split(),
    }


def requires(scope):
    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            user = current_user()
            if user is None or scope not in user["scopes"]:
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorate


@app.get("/app/")
@requires("user")
def home():
    return f"Hello {current_user()['name']}"


@app.get("/app/admin/")
@requires("admin")
def admin():
    return "Administration"
