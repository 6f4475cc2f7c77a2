from django.conf import settings
from django.db import models


class City(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    country = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "cities"

    def __str__(self):
        return self.name


class Trip(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trips")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="trips")
    title = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField()

    class Meta:
        ordering = ["starts_on", "id"]

    def __str__(self):
        return self.title


class Booking(models.Model):
    class Kind(models.TextChoices):
        FLIGHT = "flight"
        HOTEL = "hotel"

    class Status(models.TextChoices):
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"

    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="bookings")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reference = models.CharField(max_length=12, unique=True)
    # Money held on the booking; chapter 05 moves it between bookings atomically.
    amount = models.DecimalField(max_digits=9, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="booking_amount_not_negative"),
        ]

    def __str__(self):
        return f"{self.kind} {self.reference}"
