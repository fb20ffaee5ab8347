# Read by the `flask` command (python-dotenv): which app it runs, so no --app is needed.
# Settings go in .env (see .env.example) or the environment, not here.
FLASK_APP=portal
