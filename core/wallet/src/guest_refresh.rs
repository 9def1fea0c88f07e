//! A guest's revalidation. A guest chain opens doors only while its host's certificate is
//! fresh (the property's revalidation window from the host's last sync), so a guest holding the
//! copy from the day of sharing would lapse a window later even while its host keeps syncing.
//! When the guest's phone is online it asks the host's backend (named in the offer) for the
//! host key's current certificate, proving it holds the guest key; the backend answers only for
//! a guest key the host's upload registered and nobody revoked. The answer is checked against
//! the offer's own anchors before it replaces anything, like every other answer.

use super::share::GuestKeyOffer;
use super::{Result, Wallet};
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_protocol::credential::KeyId;

/// What [`Wallet::refresh_guest_keys`] did, per offered key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestRefreshSummary {
    /// Keys whose host certificate was renewed (the new one is fresh for longer).
    pub renewed: Vec<KeyId>,
    /// Keys whose host certificate was already the newest the backend has.
    pub unchanged: Vec<KeyId>,
    /// Keys the backend would not revalidate, or whose offer names no backend, with the reason
    /// (a revoked guest key, a host whose key ended, a network failure).
    pub failed: Vec<(KeyId, String)>,
}

impl Wallet {
    /// Revalidates every guest key this wallet was offered, with the backend each offer names.
    /// One key's failure does not stop the others, and changes nothing of it.
    pub async fn refresh_guest_keys(&mut self) -> Result<GuestRefreshSummary> {
        let mut summary = GuestRefreshSummary::default();
        let offers: Vec<GuestKeyOffer> = self.store.offers()?.into_iter().map(|(o, _)| o).collect();
        let device = self.device.clone();
        for offer in offers {
            let key = offer.chain.leaf_key_id();
            let Some(url) = offer.backend_url() else {
                summary.failed.push((key, "the offer names no backend to revalidate with".into()));
                continue;
            };
            let answer = match SyncClient::new(ClientConfig::new(url)) {
                Ok(client) => client.refresh_guest_key(&offer.chain, &device, keyway_api::clock::now()).await,
                Err(e) => Err(e),
            };
            let root = match answer {
                Ok(a) => a.root.0,
                Err(e) => {
                    summary.failed.push((key, e.to_string()));
                    continue;
                }
            };
            // Never trade for a certificate fresh for less (a backend restored from a backup).
            if root.body.fresh_until <= offer.chain.root().body.fresh_until {
                summary.unchanged.push(key);
                continue;
            }
            match offer.with_root(root, &device.public()) {
                Ok(renewed) => {
                    self.store.renew_offer(&renewed)?;
                    summary.renewed.push(key);
                }
                Err(e) => summary.failed.push((key, e.to_string())),
            }
        }
        Ok(summary)
    }
}
