"""The field app (城管通 / 处置通): a progressive web app at /m/ for supervisors and department
handlers on their phones, online or not, a client of the JSON API (docs/field-app.md)."""
