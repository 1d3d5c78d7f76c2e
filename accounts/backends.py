from django.contrib.auth.backends import ModelBackend

from console.cache import cached

USERS = "users"  # cache generation bumped by every change to a user


class CachedModelBackend(ModelBackend):
    """Django's backend, except that the signed-in user is read from the cache on each request.

    Any save of a user (password change, deactivation, sign-in time) retires the cached copies, so the
    session's auth hash check still sees a changed password at once.
    """

    def get_user(self, user_id):
        return cached(USERS, str(user_id), lambda: super(CachedModelBackend, self).get_user(user_id))
