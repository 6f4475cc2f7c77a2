from django.core.management.base import BaseCommand, CommandError

from trips.models import City
from trips.seed import seed


class Command(BaseCommand):
    help = "Fill an empty, migrated database with Tripboard's demo data."

    def handle(self, *args, **options):
        if City.objects.exists():
            raise CommandError("The database already has data; run `manage.py flush` first.")
        counts = seed()
        self.stdout.write(", ".join(f"{n} {what}" for what, n in counts.items()))
