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

impl Verifier {
    /// Validates `token`; the error says why it was refused (for logs and the 401 body).
    pub(crate) async fn verify(&self, token: &str) -> Result<Verified, String> {
        let header = decode_header(token).map_err(|error| format!("malformed token: {error}"))?;
        let key = match header.alg {
            Algorithm::HS256 => self
                .secret
                .clone()
                .ok_or_else(|| "HS256 tokens are not accepted here".to_owned())?,
            Algorithm::RS256 | Algorithm::ES256 => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| "token has no kid".to_owned())?;
                let keys = self
                    .keys
                    .as_ref()
                    .ok_or_else(|| "no public keys are configured".to_owned())?;
                let public = keys
                    .key(kid)
                    .await
                    .ok_or_else(|| format!("unknown key id '{kid}'"))?;
                if public.algorithm != header.alg {
                    return Err(format!("key '{kid}' is not a {:?} key", header.alg));
                }
                public.key
            }
            other => return Err(format!("algorithm {other:?} is not accepted")),
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
        let data = decode::<Claims>(token, &key, &validation)
            .map_err(|error| format!("invalid token: {error}"))?;
        let expires_at = data.claims.exp;
        let user = data
            .claims
            .into_user()
            .ok_or_else(|| "Token is missing required user claims".to_owned())?;
        Ok(Verified { user, expires_at })
    }
}
