"""The claims the identity provider gives a relying party, in the ID token and at userinfo."""

from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    # Request-agnostic (no `request` argument) so that discovery lists the claims in "claims_supported";
    # each value is computed per token from the signed-in user. The `email` and `profile` scopes gate them
    # (OAuth2Validator.oidc_claim_scope).
    def get_additional_claims(self):
        return {
            "email": lambda request: request.user.email,
            "email_verified": lambda request: request.user.person.email_verified,
            "name": lambda request: request.user.person.name,
        }
