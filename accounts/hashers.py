"""The password hasher of the accounts imported from the original app."""

from django.contrib.auth.hashers import BCryptPasswordHasher

# bcrypt reads at most this many bytes of a password.
BCRYPT_MAX_BYTES = 72


class OriginalBCryptPasswordHasher(BCryptPasswordHasher):
    """Django's bcrypt hasher, checking passwords as the original's bcryptjs did.

    bcryptjs hashed the first 72 bytes of a longer password and ignored the
    rest; the bcrypt package refuses such a password with an error, which
    made signing in with it a server error. Cutting it at 72 bytes checks
    exactly what the original checked. Used only to verify: a successful
    sign-in rewrites the hash with the first hasher of PASSWORD_HASHERS.
    """

    def encode(self, password, salt):
        bcrypt = self._load_library()
        hashed = bcrypt.hashpw(password.encode()[:BCRYPT_MAX_BYTES], salt)
        return f"{self.algorithm}${hashed.decode('ascii')}"
