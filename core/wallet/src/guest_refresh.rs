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
use keyway_protocol::credential::{KeyCertificate, KeyId, KeyPair};

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

/// A guest revalidation about to go out: the offers and the device key, taken under the
/// wallet's lock so the requests run without it ([`Wallet::begin_guest_refresh`]).
pub struct GuestRefreshCall {
    offers: Vec<GuestKeyOffer>,
    device: KeyPair,
    epoch: u64,
}

/// The backends' answers, per offered key, to apply with [`Wallet::finish_guest_refresh`].
pub struct FetchedGuestRefresh {
    answers: Vec<(GuestKeyOffer, std::result::Result<KeyCertificate, String>)>,
    epoch: u64,
}

impl GuestRefreshCall {
    /// The requests, one per offer that names a backend. Needs no wallet.
    pub async fn fetch(self) -> FetchedGuestRefresh {
        let mut answers = Vec::new();
        for offer in self.offers {
            let answer = match offer.backend_url() {
                None => Err("the offer names no backend to revalidate with".to_string()),
                Some(url) => match SyncClient::new(ClientConfig::new(url)) {
                    Ok(client) => client
                        .refresh_guest_key(&offer.chain, &self.device, keyway_api::clock::now())
                        .await
                        .map(|a| a.root.0)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
            };
            answers.push((offer, answer));
        }
        FetchedGuestRefresh { answers, epoch: self.epoch }
    }
}

impl Wallet {
    /// Revalidates every guest key this wallet was offered, with the backend each offer names
    /// (begin, fetch and finish in one). One key's failure does not stop the others, and
    /// changes nothing of it.
    pub async fn refresh_guest_keys(&mut self) -> Result<GuestRefreshSummary> {
        let fetched = self.begin_guest_refresh()?.fetch().await;
        self.finish_guest_refresh(fetched)
    }

    /// Step 1 of [`Wallet::refresh_guest_keys`]: what the requests need.
    pub fn begin_guest_refresh(&self) -> Result<GuestRefreshCall> {
        let offers = self.store.offers()?.into_iter().map(|(o, _)| o).collect();
        Ok(GuestRefreshCall { offers, device: self.device.clone(), epoch: self.epoch })
    }

    /// Step 3: checks each answer against its offer's own anchors and keeps the fresher
    /// certificates. Refused with [`super::WalletError::Reset`] after a reset.
    pub fn finish_guest_refresh(&mut self, fetched: FetchedGuestRefresh) -> Result<GuestRefreshSummary> {
        if fetched.epoch != self.epoch {
            return Err(super::WalletError::Reset);
        }
        let mut summary = GuestRefreshSummary::default();
        let device = self.device.public();
        for (offer, answer) in fetched.answers {
            let key = offer.chain.leaf_key_id();
            let root = match answer {
                Ok(root) => root,
                Err(e) => {
                    summary.failed.push((key, e));
                    continue;
                }
            };
            // Never trade for a certificate fresh for less (a backend restored from a backup).
            if root.body.fresh_until <= offer.chain.root().body.fresh_until {
                summary.unchanged.push(key);
                continue;
            }
            match offer.with_root(root, &device) {
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
