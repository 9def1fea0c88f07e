//! What the walkthrough reports: each step, each unlock with what the link carried, and the
//! door updates delivered.

use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct StepReport {
    pub number: usize,
    pub title: String,
    pub passed: bool,
    /// The narrative lines printed for this step.
    pub lines: Vec<String>,
    pub failure: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct UnlockRow {
    pub step: usize,
    pub who: String,
    pub door: String,
    pub key: String,
    pub guest: bool,
    pub granted: bool,
    pub denial: Option<String>,
    pub mtu: usize,
    pub updates_carried: bool,
    pub seq_before: u64,
    pub seq_after: u64,
    pub bytes_phone_to_door: usize,
    pub bytes_door_to_phone: usize,
    pub frames_phone_to_door: usize,
    pub frames_door_to_phone: usize,
    pub round_trips: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct UpdateRow {
    pub door: String,
    pub seq: u64,
    pub ops: String,
    pub delivered: bool,
    pub receipt_door_time: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub passed: bool,
    pub steps: Vec<StepReport>,
    pub unlocks: Vec<UnlockRow>,
    pub updates: Vec<UpdateRow>,
    pub backend: String,
    pub workdir: String,
}

impl Report {
    pub fn steps_passed(&self) -> usize {
        self.steps.iter().filter(|s| s.passed).count()
    }

    /// The summary table printed at the end of the narrative.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        out.push_str("\n== Summary ==\n\n");
        out.push_str(&format!("Steps passed: {}/{}\n", self.steps_passed(), self.steps.len()));
        for s in &self.steps {
            out.push_str(&format!("  [{}] {}. {}\n", if s.passed { "ok" } else { "FAILED" }, s.number, s.title));
        }
        out.push_str("\nUnlocks over the socket link (bytes are frame bytes, ATT overhead excluded):\n\n");
        out.push_str(&format!(
            "  {:<4} {:<6} {:<9} {:<7} {:<24} {:>4} {:>9} {:>11} {:>11} {:>11} {:>5}\n",
            "step",
            "who",
            "door",
            "key",
            "decision",
            "mtu",
            "updates",
            "phone→door",
            "door→phone",
            "frames p/d",
            "rtts"
        ));
        for u in &self.unlocks {
            let decision = if u.granted {
                "granted".to_string()
            } else {
                format!("refused {}", u.denial.as_deref().unwrap_or("?"))
            };
            let updates =
                if u.seq_after > u.seq_before { format!("{}→{}", u.seq_before, u.seq_after) } else { "-".into() };
            out.push_str(&format!(
                "  {:<4} {:<6} {:<9} {:<7} {:<24} {:>4} {:>9} {:>9} B {:>9} B {:>11} {:>5}\n",
                u.step,
                u.who,
                u.door,
                if u.guest { "guest" } else { "own" },
                decision,
                u.mtu,
                updates,
                u.bytes_phone_to_door,
                u.bytes_door_to_phone,
                format!("{}/{}", u.frames_phone_to_door, u.frames_door_to_phone),
                u.round_trips
            ));
        }
        let delivered = self.updates.iter().filter(|u| u.delivered).count();
        out.push_str(&format!("\nDoor updates delivered to offline doors: {delivered}/{}\n", self.updates.len()));
        for u in &self.updates {
            out.push_str(&format!(
                "  {:<9} seq {:<2} {:<9} {:<26} {}\n",
                u.door,
                u.seq,
                if u.delivered { "delivered" } else { "pending" },
                u.receipt_door_time.as_deref().map(|t| format!("door clock {t}")).unwrap_or_default(),
                u.ops
            ));
        }
        out.push_str(&format!(
            "\n{}\n",
            if self.passed { "The walkthrough passed." } else { "The walkthrough FAILED." }
        ));
        out
    }
}
