//! The building and the people in it: doors, residents with their keys and phones, and each
//! resident's days, all drawn from the seed. Nothing here talks to Keyway; [`crate::sim`]
//! plays it against the real code.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const MINUTE: u64 = 60;
pub const HOUR: u64 = 3_600;
pub const DAY: u64 = 86_400;

/// The simulation's parameters (the command line's flags).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub residents: usize,
    /// At least 3: a lobby, a garage and one floor door.
    pub doors: usize,
    pub days: u32,
    pub seed: u64,
    /// The revalidation window of the Keyway run with the door feed (Mission Control's default
    /// is 7 days).
    pub window_days: u32,
    /// Manager actions per weekday, spread over office hours.
    pub actions_per_day: f64,
    /// Office hours end at this hour (they start at 9:00).
    pub office_end_hour: u64,
    /// Where Mission Control's database is created (a fresh temporary folder inside it);
    /// `None`: `/dev/shm` where there is one, else the system's temporary folder.
    pub db_dir: Option<std::path::PathBuf>,
    /// Unix time of the first simulated midnight (UTC; the property's offset is 0). A Monday.
    pub start: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            residents: 200,
            doors: 20,
            days: 7,
            seed: 1,
            window_days: 7,
            actions_per_day: 16.0,
            office_end_hour: 17,
            db_dir: None,
            // Monday 2027-03-01 00:00 UTC.
            start: 1_803_859_200,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("a building needs at least 3 doors (lobby, garage, one floor), not {0}")]
    TooFewDoors(usize),
    #[error("at most 4096 doors, not {0}")]
    TooManyDoors(usize),
    #[error("a building needs at least 1 resident")]
    NoResidents,
    #[error("at most 20000 residents, not {0}")]
    TooManyResidents(usize),
    #[error("the run lasts 1 to 60 days, not {0}")]
    Days(u32),
    #[error("the revalidation window is 1 to 90 days (Mission Control's range), not {0}")]
    Window(u32),
    #[error("manager actions per day must be between 0 and 500, not {0}")]
    Actions(f64),
    #[error("office hours run from 9:00 to 10:00..=23:00, not to {0}:00")]
    OfficeHours(u64),
    #[error("the start {0} is not a Monday midnight UTC")]
    Start(u64),
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        match self {
            c if c.doors < 3 => Err(ConfigError::TooFewDoors(c.doors)),
            c if c.doors > 4096 => Err(ConfigError::TooManyDoors(c.doors)),
            c if c.residents == 0 => Err(ConfigError::NoResidents),
            c if c.residents > 20_000 => Err(ConfigError::TooManyResidents(c.residents)),
            c if !(1..=60).contains(&c.days) => Err(ConfigError::Days(c.days)),
            c if !(1..=90).contains(&c.window_days) => Err(ConfigError::Window(c.window_days)),
            c if !(0.0..=500.0).contains(&c.actions_per_day) => Err(ConfigError::Actions(c.actions_per_day)),
            c if !(10..=23).contains(&c.office_end_hour) => Err(ConfigError::OfficeHours(c.office_end_hour)),
            // 1970-01-01 was a Thursday: Mondays are 4 days after a multiple of 7 days.
            c if !c.start.is_multiple_of(DAY) || !(c.start / DAY + 3).is_multiple_of(7) => {
                Err(ConfigError::Start(c.start))
            }
            _ => Ok(()),
        }
    }

    pub fn end(&self) -> u64 {
        self.start + u64::from(self.days) * DAY
    }

    /// Whether `t` falls on Saturday or Sunday.
    pub fn is_weekend(&self, t: u64) -> bool {
        ((t.saturating_sub(self.start)) / DAY) % 7 >= 5
    }
}

/// A seeded stream of its own for each purpose, so that one purpose drawing more or fewer
/// numbers (a run with another scenario) never shifts another's.
pub fn stream(seed: u64, purpose: u64, index: u64) -> StdRng {
    let mut x = seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(x ^ (x >> 31))
}

pub const STREAM_ROUTINE: u64 = 1;
pub const STREAM_PHONE: u64 = 2;
pub const STREAM_MANAGER: u64 = 3;
pub const STREAM_OUTAGE: u64 = 4;
pub const STREAM_LINK: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DoorKind {
    /// Lobby and garage: on the internet through the door feed (in the runs that have it).
    Connected,
    /// Bike room, mail room, gym, roof, unit floors: only phones bring their updates.
    Offline,
}

impl DoorKind {
    pub fn label(self) -> &'static str {
        match self {
            DoorKind::Connected => "lobby+garage",
            DoorKind::Offline => "offline doors",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Lobby,
    Garage,
    MailRoom,
    Gym,
    BikeRoom,
    Roof,
    /// Storage lockers: few residents have one, fewer visit it in a given week.
    Storage,
    Floor(u32),
}

#[derive(Clone, Debug)]
pub struct DoorPlan {
    pub name: String,
    pub role: Role,
    pub kind: DoorKind,
    /// The basement: phones have no network there.
    pub has_network: bool,
}

/// Lobby and garage first, then the amenities that fit (mail room, gym, bike room, roof,
/// storage), then unit-floor doors.
pub fn doors(count: usize) -> Vec<DoorPlan> {
    let mut doors = vec![
        DoorPlan { name: "Lobby".into(), role: Role::Lobby, kind: DoorKind::Connected, has_network: true },
        DoorPlan { name: "Garage".into(), role: Role::Garage, kind: DoorKind::Connected, has_network: false },
    ];
    let amenities = [
        ("Mail room", Role::MailRoom, true),
        ("Gym", Role::Gym, true),
        ("Bike room", Role::BikeRoom, false),
        ("Roof", Role::Roof, true),
        ("Storage", Role::Storage, false),
    ];
    let floors = count.saturating_sub(2 + amenities.len()).max(1);
    for (name, role, has_network) in amenities.iter().take(count.saturating_sub(3)) {
        doors.push(DoorPlan { name: (*name).into(), role: *role, kind: DoorKind::Offline, has_network: *has_network });
    }
    for f in 1..=floors {
        doors.push(DoorPlan {
            name: format!("Floor {f}"),
            role: Role::Floor(f as u32),
            kind: DoorKind::Offline,
            has_network: true,
        });
    }
    doors.truncate(count);
    doors
}

/// How often a phone syncs on its own (background refresh), and how often that fails (app
/// killed, no network).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PhoneHabit {
    pub every: u64,
    pub failure: f64,
    /// Chance that opening the app to unlock also syncs (where the phone has network).
    pub app_sync: f64,
}

pub const REGULAR: PhoneHabit = PhoneHabit { every: HOUR, failure: 0.1, app_sync: 0.3 };
pub const OCCASIONAL: PhoneHabit = PhoneHabit { every: 4 * HOUR, failure: 0.2, app_sync: 0.2 };
pub const RARE: PhoneHabit = PhoneHabit { every: DAY, failure: 0.3, app_sync: 0.05 };

pub fn habit(rng: &mut StdRng) -> PhoneHabit {
    match rng.gen_range(0..100) {
        0..70 => REGULAR,
        70..90 => OCCASIONAL,
        _ => RARE,
    }
}

/// What a resident's key opens and how they live.
#[derive(Clone, Debug)]
pub struct Resident {
    pub floor: usize,
    pub car: bool,
    pub bike: bool,
    pub gym: bool,
    pub roof: bool,
    pub storage: bool,
    /// The resident's key: indexes into the door list.
    pub doors: Vec<usize>,
    pub habit: PhoneHabit,
    /// Days away (no door passes; the phone still syncs when it can).
    pub away: Option<(u32, u32)>,
}

fn find(doors: &[DoorPlan], role: Role) -> Option<usize> {
    doors.iter().position(|d| d.role == role)
}

/// The doors a person walks past (within BLE range, a few metres) on the way to door `d`: the
/// mail room and gym off the lobby, the bike room and storage in the basement by the garage,
/// the roof from the top floor. A phone carrying their updates hands them over in passing.
pub fn nearby(doors: &[DoorPlan], d: usize) -> Vec<usize> {
    let top = doors.iter().filter_map(|p| if let Role::Floor(f) = p.role { Some(f) } else { None }).max();
    let roles: Vec<Role> = match doors[d].role {
        Role::Lobby => vec![Role::MailRoom, Role::Gym],
        Role::MailRoom => vec![Role::Lobby, Role::Gym],
        Role::Gym => vec![Role::Lobby, Role::MailRoom],
        Role::Garage => vec![Role::BikeRoom, Role::Storage],
        Role::BikeRoom => vec![Role::Garage, Role::Storage],
        Role::Storage => vec![Role::Garage, Role::BikeRoom],
        Role::Roof => top.map(Role::Floor).into_iter().collect(),
        Role::Floor(f) if Some(f) == top => vec![Role::Roof],
        Role::Floor(_) => vec![],
    };
    roles.into_iter().filter_map(|r| find(doors, r)).filter(|&i| i != d).collect()
}

pub fn floor_doors(doors: &[DoorPlan]) -> Vec<usize> {
    doors.iter().enumerate().filter(|(_, d)| matches!(d.role, Role::Floor(_))).map(|(i, _)| i).collect()
}

/// Resident `index`, drawn from its own stream.
pub fn resident(cfg: &Config, doors: &[DoorPlan], index: u64) -> Resident {
    let mut rng = stream(cfg.seed, STREAM_ROUTINE, index);
    let floors = floor_doors(doors);
    let floor = floors[rng.gen_range(0..floors.len())];
    let car = rng.gen_bool(0.5);
    let bike = rng.gen_bool(0.25);
    let gym = rng.gen_bool(0.4);
    let roof = rng.gen_bool(0.3);
    let storage = rng.gen_bool(0.15);
    let mut key = vec![0, floor];
    let mut add = |role: Role, yes: bool| {
        if let (true, Some(i)) = (yes, find(doors, role)) {
            key.push(i);
        }
    };
    add(Role::Garage, car);
    add(Role::MailRoom, true);
    add(Role::BikeRoom, bike);
    add(Role::Gym, gym);
    add(Role::Roof, roof);
    add(Role::Storage, storage);
    key.sort_unstable();
    key.dedup();
    let habit = habit(&mut rng);
    let away = if rng.gen_bool(0.05) {
        let first = rng.gen_range(0..cfg.days);
        Some((first, (first + rng.gen_range(3..=7)).min(cfg.days)))
    } else {
        None
    };
    Resident { floor, car, bike, gym, roof, storage, doors: key, habit, away }
}

/// One door a person opens with the app at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    pub at: u64,
    pub door: usize,
}

fn around(rng: &mut StdRng, centre: u64, spread: u64) -> u64 {
    // A triangular draw: the sum of two uniforms, centred.
    let a = rng.gen_range(0..=spread);
    let b = rng.gen_range(0..=spread);
    (centre + a + b).saturating_sub(spread)
}

/// The doors opened along one trip, 30 to 90 s apart.
fn trip(rng: &mut StdRng, at: u64, doors: &[usize], out: &mut Vec<Pass>) {
    let mut t = at;
    for &door in doors {
        out.push(Pass { at: t, door });
        t += rng.gen_range(30..=90);
    }
}

/// Every door pass of a resident over the run, in time order. Entries are what need a key:
/// coming home (lobby or garage, then the floor), fetching a bike, the mail, the gym, the
/// roof; a car leaves through the garage gate, which opens with the app too.
pub fn routine(cfg: &Config, doors: &[DoorPlan], r: &Resident, index: u64, active_from: u64) -> Vec<Pass> {
    let mut rng = stream(cfg.seed, STREAM_ROUTINE, index ^ 0x5EED_0000_0000);
    let has = |role: Role| find(doors, role).filter(|i| r.doors.contains(i));
    let (garage, mail, gym, bikes, roof, storage) = (
        has(Role::Garage),
        has(Role::MailRoom),
        has(Role::Gym),
        has(Role::BikeRoom),
        has(Role::Roof),
        has(Role::Storage),
    );
    let mut passes = Vec::new();
    for day in 0..cfg.days {
        let midnight = cfg.start + u64::from(day) * DAY;
        if r.away.is_some_and(|(from, to)| day >= from && day < to) {
            continue;
        }
        let weekend = cfg.is_weekend(midnight);
        let works = !weekend && rng.gen_bool(0.8);
        let mut outings: Vec<(u64, u64)> = Vec::new();
        if works {
            let leave = around(&mut rng, midnight + 8 * HOUR, 45 * MINUTE);
            let back = around(&mut rng, midnight + 18 * HOUR, HOUR);
            outings.push((leave, back));
        }
        let extra = if weekend { rng.gen_range(0..=2) } else { rng.gen_range(0..=1) };
        for _ in 0..extra {
            let leave = midnight + rng.gen_range(9 * HOUR..20 * HOUR);
            let back = leave + rng.gen_range(HOUR..4 * HOUR);
            if outings.iter().all(|&(l, b)| back + 10 * MINUTE < l || leave > b + 10 * MINUTE) {
                outings.push((leave, back));
            }
        }
        outings.sort_unstable();
        for (leave, back) in outings {
            let by_car = garage.is_some() && rng.gen_bool(0.7);
            let by_bike = !by_car && bikes.is_some() && rng.gen_bool(0.5);
            if by_car {
                trip(&mut rng, leave, &[garage.unwrap_or(0)], &mut passes);
            } else if by_bike {
                trip(&mut rng, leave, &[bikes.unwrap_or(0)], &mut passes);
            }
            let mut home = Vec::new();
            match (by_car, by_bike) {
                (true, _) => home.push(garage.unwrap_or(0)),
                (_, true) => home.extend([bikes.unwrap_or(0), 0]),
                _ => home.push(0),
            }
            if let Some(m) = mail
                && rng.gen_bool(0.35)
            {
                home.push(m);
            }
            home.push(r.floor);
            trip(&mut rng, back, &home, &mut passes);
        }
        if let Some(g) = gym
            && rng.gen_bool(if weekend { 0.4 } else { 0.3 })
        {
            let at = if rng.gen_bool(0.5) { midnight + 6 * HOUR + 30 * MINUTE } else { midnight + 20 * HOUR };
            let at = around(&mut rng, at, 30 * MINUTE);
            trip(&mut rng, at, &[g], &mut passes);
            let back = at + rng.gen_range(45 * MINUTE..90 * MINUTE);
            trip(&mut rng, back, &[r.floor], &mut passes);
        }
        if let Some(f) = roof
            && rng.gen_bool(if weekend { 0.3 } else { 0.08 })
        {
            let at = midnight + rng.gen_range(12 * HOUR..21 * HOUR);
            trip(&mut rng, at, &[f], &mut passes);
            let back = at + rng.gen_range(30 * MINUTE..2 * HOUR);
            trip(&mut rng, back, &[r.floor], &mut passes);
        }
        if let Some(s) = storage
            && rng.gen_bool(if weekend { 0.06 } else { 0.02 })
        {
            let at = midnight + rng.gen_range(10 * HOUR..20 * HOUR);
            trip(&mut rng, at, &[s], &mut passes);
            let back = at + rng.gen_range(10 * MINUTE..40 * MINUTE);
            trip(&mut rng, back, &[r.floor], &mut passes);
        }
    }
    passes.retain(|p| p.at >= active_from && p.at < cfg.end());
    passes.sort_by_key(|p| p.at);
    passes
}

/// Each connected door's internet outages: on a given day with chance 15 %, 10 minutes to 3
/// hours.
pub fn outages(cfg: &Config, door: usize) -> Vec<(u64, u64)> {
    let mut rng = stream(cfg.seed, STREAM_OUTAGE, door as u64);
    let mut out = Vec::new();
    for day in 0..cfg.days {
        if rng.gen_bool(0.15) {
            let from = cfg.start + u64::from(day) * DAY + rng.gen_range(0..DAY);
            out.push((from, from + rng.gen_range(10 * MINUTE..3 * HOUR)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_start_is_a_monday_and_the_config_checks() {
        let cfg = Config::default();
        assert_eq!(cfg.check(), Ok(()));
        assert!(!cfg.is_weekend(cfg.start));
        assert!(cfg.is_weekend(cfg.start + 5 * DAY));
        assert_eq!(Config { start: cfg.start + DAY, ..cfg.clone() }.check(), Err(ConfigError::Start(cfg.start + DAY)));
        assert_eq!(Config { doors: 2, ..cfg.clone() }.check(), Err(ConfigError::TooFewDoors(2)));
    }

    #[test]
    fn door_layouts() {
        let names: Vec<String> = doors(4).into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["Lobby", "Garage", "Mail room", "Floor 1"]);
        let d = doors(20);
        assert_eq!(d.len(), 20);
        assert_eq!(d.iter().filter(|d| d.kind == DoorKind::Connected).count(), 2);
        assert_eq!(floor_doors(&d).len(), 13);
        assert_eq!(d[6].name, "Storage");
    }

    #[test]
    fn routines_are_a_function_of_the_seed() {
        let cfg = Config::default();
        let d = doors(cfg.doors);
        let a = routine(&cfg, &d, &resident(&cfg, &d, 7), 7, cfg.start);
        let b = routine(&cfg, &d, &resident(&cfg, &d, 7), 7, cfg.start);
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        let other = Config { seed: 2, ..cfg.clone() };
        let c = routine(&other, &d, &resident(&other, &d, 7), 7, cfg.start);
        assert_ne!(a, c);
    }
}
