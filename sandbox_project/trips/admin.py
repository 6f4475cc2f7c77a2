from django.contrib import admin

from .models import Booking, City, Trip

admin.site.register(City)
admin.site.register(Trip)
admin.site.register(Booking)
