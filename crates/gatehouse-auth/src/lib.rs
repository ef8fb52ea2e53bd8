//! Authentication for the gateway: JWT verification with keys from
//! consumers' credentials or JWKS sets, Kong's `jwt` plugin semantics, and a
//! cache of verified tokens. No Pingora types: the binary adapts its session
//! to the small request view used here.

pub mod cache;
pub mod claims;
pub mod extract;
pub mod jwks;
pub mod keys;
pub mod policy;
pub mod token;

pub use cache::TokenCache;
pub use claims::{ClaimError, ClaimRules};
pub use extract::{Found, RequestParts, TokenLocations};
pub use jwks::{Jwks, JwksSource, Lookup};
pub use keys::{Algorithm, KeyError, VerifyKey};
pub use policy::{AuthError, Consumer, Credential, Identity, JwtPolicy, Outcome};
pub use token::{SignatureError, TokenError};
