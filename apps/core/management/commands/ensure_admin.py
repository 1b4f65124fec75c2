"""Create (or keep) the admin login `make run` prints.

Username/password come from FLOWBASE_ADMIN_USER / FLOWBASE_ADMIN_PASSWORD, else `admin` and a
generated password stored in .local/admin-password (reused on the next run).
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model

from apps.core.commands import FlowbaseCommand


class Command(FlowbaseCommand):
    help = "Create the admin superuser if missing and write the login to .local/admin-login.txt."

    def handle(self, *args, **options):
        local_dir = settings.FLOWBASE_LOCAL_DIR
        local_dir.mkdir(parents=True, exist_ok=True)
        username = os.environ.get("FLOWBASE_ADMIN_USER", "admin")
        password = os.environ.get("FLOWBASE_ADMIN_PASSWORD") or self._stored_password(local_dir)
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user_model.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Created admin user {username!r}.")
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        login = f"Login: {username} / {password}\n"
        (local_dir / "admin-login.txt").write_text(login)

    @staticmethod
    def _stored_password(local_dir) -> str:
        path = local_dir / "admin-password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()
