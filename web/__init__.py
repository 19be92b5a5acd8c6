"""The web application: police review, operator dashboard, regulator audit (FastAPI, Jinja2)."""
