"""`--templates DIR`: render the HTML report with the user's own copy of the templates.

Checked when the command line is parsed, so a missing file is a usage error (exit 2)
before any host is contacted, naming the file.
"""
from __future__ import annotations

import click


def _check(ctx, param, value):
    if value is None:
        return None
    # Imported here: the renderer (jinja2) loads only when a report is rendered.
    from .render.html import TemplatesError, check_templates
    try:
        return str(check_templates(value))
    except TemplatesError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param)


def templates_option(fn):
    return click.option(
        "--templates", "templates_dir", metavar="DIR", default=None, callback=_check,
        help="Render the HTML report with your own copy of the templates (report.html.j2, "
             "report.css, report.js; start from a copy of the project's templates/).")(fn)
