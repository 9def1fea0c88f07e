//! Step 1: a property, its doors and its managers. Pat creates Elm Court and its four doors
//! (each a door simulator process), then adds Sam with Key Management and Kim without; Kim's
//! invite is refused.

use crate::doors::DoorProcess;
use crate::world::{DoorName, Doors, Failure, GYM_RTC_LAG_SECS, World, check};
use keyway_api::client::{ManagerClient, SyncError};
use keyway_api::{
    AccessKind, ApiError, CreateManagerRequest, CreatePropertyRequest, ErrorCode, InviteRequest, KeyGrant,
};
use keyway_protocol::credential::TrustAnchors;

impl World {
    /// Returns the running doors.
    pub(super) async fn property(&mut self) -> Result<Doors, Failure> {
        let (created, pm) = ManagerClient::create_property(
            &self.base,
            &CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 60, manager_name: "Pat".into() },
        )
        .await?;
        self.anchors = TrustAnchors::new([created.authority_key.0]);
        self.pm_token = Some(created.manager.token.clone());
        self.say(format!(
            "Pat creates the property Elm Court (UTC+1) and is its Portfolio Manager (authority key {}…).",
            created.authority_key.0.0[..6].iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let lobby = pm.create_door(DoorName::Lobby.name(), true).await?;
        let garage = pm.create_door(DoorName::Garage.name(), false).await?;
        let bikes = pm.create_door(DoorName::BikeRoom.name(), false).await?;
        let gym = pm.create_door(DoorName::Gym.name(), false).await?;
        let doors_dir = self.dir.join("doors");
        let doors = Doors {
            lobby: DoorProcess::start(&doors_dir, &lobby, &self.base)?,
            garage: DoorProcess::start(&doors_dir, &garage, &self.base)?,
            bikes: DoorProcess::start(&doors_dir, &bikes, &self.base)?,
            gym: DoorProcess::start_with_rtc(&doors_dir, &gym, &self.base, -GYM_RTC_LAG_SECS)?,
        };
        for d in DoorName::ALL.map(|name| doors.get(name)) {
            let st = d.status()?;
            check!(st.door_id == d.id().0 && st.update_seq == 0, "{} started in an unexpected state: {st:?}", d.name);
            let online = d.provisioned.online;
            self.say(format!(
                "   {} ({}) — {} — provisioned from {}.json, door simulator process listening on {}",
                d.name,
                d.id(),
                match (online, d.id() == doors.gym.id()) {
                    (true, _) => "internet-connected, on its door feed from Mission Control",
                    (false, true) => "offline, its lock's clock running ten minutes slow",
                    (false, false) => "offline",
                },
                d.name.to_lowercase().replace(' ', "-"),
                d.addr
            ));
        }
        let listed = pm.doors().await?;
        check!(listed.len() == 4, "expected 4 doors, Mission Control lists {}", listed.len());

        let sam = pm
            .create_manager(&CreateManagerRequest {
                name: "Sam".into(),
                portfolio_manager: false,
                key_management: true,
            })
            .await?;
        let kim = pm
            .create_manager(&CreateManagerRequest {
                name: "Kim".into(),
                portfolio_manager: false,
                key_management: false,
            })
            .await?;
        self.sam = pm.with_token(&sam.token);
        let kim = pm.with_token(&kim.token);
        check!(self.sam.me().await?.key_management, "Sam should have Key Management");
        self.say("   Pat adds two managers: Sam with Key Management, Kim without.");
        let attempt = kim
            .invite(&InviteRequest {
                name: "Zed".into(),
                contact: "zed@example.com".into(),
                access: AccessKind::AppKey,
                keys: vec![KeyGrant { doors: vec![doors.garage.id()], start: None, expiry: keyway_api::Expiry::Never }],
                resident: true,
                may_share: false,
            })
            .await;
        match attempt {
            Err(SyncError::Rejected { status: 403, error: ApiError { code: ErrorCode::Forbidden, message } }) => {
                // The article quotes the refusal: it tells Kim whom to ask.
                check!(message.contains("ask a Portfolio Manager"), "unexpected refusal message: {message}");
                self.say(format!("   Kim tries to invite someone and is refused (403): \"{message}\""));
            }
            Err(e) => return Err(Failure(format!("Kim's invite failed the wrong way: {e}"))),
            Ok(_) => return Err(Failure("Kim, without Key Management, was allowed to invite".into())),
        }
        check!(pm.people(true).await?.is_empty(), "the refused invite left a person behind");
        Ok(doors)
    }
}
