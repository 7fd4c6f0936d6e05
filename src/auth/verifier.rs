//! JWT validation: the algorithm comes from the key, never from the token alone (no `none`,
//! no HS/RS confusion); `exp` is required, `nbf` checked, `iss`/`aud` when configured.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::keys::KeySet;
use super::user::{Claims, User};

/// A token that checked out, and until when (unix seconds).
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub user: User,
    pub expires_at: u64,
}

pub(crate) struct Verifier {
    pub secret: Option<DecodingKey>,
    pub keys: Option<KeySet>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
}

/// Why a token was refused (for logs and the 401 body).
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    #[error("malformed token: {0}")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    #[error("HS256 tokens are not accepted here")]
    NoSharedSecret,
    #[error("token has no kid")]
    NoKid,
    #[error("no public keys are configured")]
    NoPublicKeys,
    #[error("unknown key id '{kid}'")]
    UnknownKid { kid: String },
    /// The token's algorithm is not the one its key is for (no RS/ES confusion).
    #[error("key '{kid}' is not a {algorithm:?} key")]
    WrongAlgorithmForKey { kid: String, algorithm: Algorithm },
    #[error("algorithm {algorithm:?} is not accepted")]
    UnsupportedAlgorithm { algorithm: Algorithm },
    /// Signature, expiry, `nbf`, issuer or audience did not check out.
    #[error("invalid token: {0}")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    #[error("Token is missing required user claims")]
    NoUser,
}

impl Verifier {
    /// Validates `token`; the error says why it was refused.
    pub(crate) async fn verify(&self, token: &str) -> Result<Verified, VerifyError> {
        let header = decode_header(token).map_err(VerifyError::Malformed)?;
        let key = match header.alg {
            Algorithm::HS256 => self.secret.clone().ok_or(VerifyError::NoSharedSecret)?,
            Algorithm::RS256 | Algorithm::ES256 => {
                self.public_key(header.kid.as_deref(), header.alg).await?
            }
            algorithm => return Err(VerifyError::UnsupportedAlgorithm { algorithm }),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = decode::<Claims>(token, &key, &validation).map_err(VerifyError::Invalid)?;
        let expires_at = data.claims.exp;
        let user = data.claims.into_user().ok_or(VerifyError::NoUser)?;
        Ok(Verified { user, expires_at })
    }

    /// The public key the token's `kid` names, if it is one for `algorithm`.
    async fn public_key(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<DecodingKey, VerifyError> {
        let kid = kid.ok_or(VerifyError::NoKid)?;
        let keys = self.keys.as_ref().ok_or(VerifyError::NoPublicKeys)?;
        let public = keys.key(kid).await.ok_or_else(|| VerifyError::UnknownKid {
            kid: kid.to_owned(),
        })?;
        if public.algorithm != algorithm {
            return Err(VerifyError::WrongAlgorithmForKey {
                kid: kid.to_owned(),
                algorithm,
            });
        }
        Ok(public.key)
    }
}
