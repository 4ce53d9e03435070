"""How passwords are stored and which ones are accepted; read by settings.py."""

from django.conf import global_settings

# Django's own hashers, then bcrypt as the original app checked it: accounts
# imported from it keep its bcryptjs hashes ("bcrypt$$2a$08$..."), and a first
# sign-in rewrites each with the first hasher.
PASSWORD_HASHERS = [
    *global_settings.PASSWORD_HASHERS,
    "accounts.hashers.OriginalBCryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
