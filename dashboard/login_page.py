"""The login page: a small server-rendered form in the app's look (dark navbar, Bootstrap from assets/).

It is plain HTML, not a Dash page, because it must work before the visitor may load anything
of the app. Everything echoed back (the next path, the user name, the error) is escaped.
"""
from __future__ import annotations

from html import escape

_PAGE = """<!DOCTYPE html>
<html lang="en" data-bs-theme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>txlab · log in</title>
<link rel="stylesheet" href="/assets/bootstrap.min.css">
<link rel="stylesheet" href="/assets/bootstrap-icons/bootstrap-icons.min.css">
<link rel="stylesheet" href="/assets/txlab.css">
</head>
<body>
<nav class="navbar navbar-dark bg-dark mb-2">
  <div class="container-xl"><a class="navbar-brand txlab-brand" href="/"><i class="bi bi-activity me-2"></i>txlab</a></div>
</nav>
<main class="container-xl txlab-page py-3">
  <div class="row justify-content-center">
    <div class="col-sm-8 col-md-6 col-lg-4">
      <div class="card shadow-sm">
        <div class="card-body">
          <h1 class="h4 mb-3">Log in</h1>
          {alert}
          <form method="post" action="/login" id="login-form">
            <input type="hidden" name="csrf" value="{csrf}">
            <input type="hidden" name="next" value="{next}">
            <div class="mb-3">
              <label class="form-label" for="login-username">User name</label>
              <input class="form-control" id="login-username" name="username" value="{username}"
                     autocomplete="username" autocapitalize="none" spellcheck="false" required {focus_name}>
            </div>
            <div class="mb-3">
              <label class="form-label" for="login-password">Password</label>
              <input class="form-control" id="login-password" name="password" type="password"
                     autocomplete="current-password" required {focus_password}>
            </div>
            <button class="btn btn-primary w-100" type="submit" id="login-submit">Log in</button>
          </form>
          <p class="text-body-secondary small mt-3 mb-0">Accounts are created by the person who runs txlab
            (<code>txlab users add NAME</code>).</p>
        </div>
      </div>
    </div>
  </div>
</main>
</body>
</html>
"""


def render_login(*, csrf: str, next_path: str = "/", username: str = "", error: str | None = None) -> str:
    """The login page's HTML, with ``error`` shown in a red alert above the form."""
    alert = f'<div class="alert alert-danger py-2" role="alert" id="login-error">{escape(error)}</div>' if error else ""
    return _PAGE.format(
        alert=alert,
        csrf=escape(csrf, quote=True),
        next=escape(next_path, quote=True),
        username=escape(username, quote=True),
        focus_name="" if username else "autofocus",
        focus_password="autofocus" if username else "",
    )
