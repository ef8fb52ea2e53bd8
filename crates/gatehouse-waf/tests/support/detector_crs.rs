//! The OWASP CRS regression tests of a detection operator's two rules
//! (942100/942101 for `@detectSQLi`, 941100/941101 for `@detectXSS`):
//! the same three checks for both, over the targets each rule reads.

use super::crs_stages::{stages, yaml_files, Stage};
use gatehouse_waf::operator::Operator;
use gatehouse_waf::transform::{apply_chain, Transform};
use std::path::Path;

/// An operator as two CRS rules run it.
pub struct Detector<'a> {
    pub op: Operator,
    /// The rules' transformations.
    pub chain: &'a [Transform],
    /// The tests' folder of the family, e.g. `REQUEST-942-APPLICATION-ATTACK-SQLI`.
    pub family: &'a str,
    /// The two rules; the first one's targets stand for the family's.
    pub rules: [i64; 2],
    /// The values a rule of `rules` reads in a stage.
    pub targets: fn(i64, &Stage) -> Vec<Vec<u8>>,
    /// Known CRS expectations not met: (test, reason).
    pub missed: &'a [(&'a str, &'a str)],
    /// Set in the environment, the informational check prints its misses.
    pub show_misses: &'a str,
}

impl Detector<'_> {
    /// What the CRS rules do: transform, then detect.
    pub fn flags(&self, value: &[u8]) -> bool {
        self.op.matches(&apply_chain(self.chain, value), None)
    }

    fn rule_flags(&self, rule: i64, stage: &Stage) -> bool {
        (self.targets)(rule, stage).iter().any(|v| self.flags(v))
    }

    fn shown(&self, value: &[u8]) -> String {
        let v = String::from_utf8_lossy(&apply_chain(self.chain, value)).into_owned();
        v.chars().take(100).collect()
    }

    /// Every `expect_ids` test of the two rules is detected (unless listed
    /// in `missed`) and no `no_expect_ids` test of theirs is flagged.
    pub fn regression(&self, dir: &Path) {
        let family = dir.join(self.family);
        let [a, b] = self.rules;
        let (mut expected, mut detected, mut clean_expected, mut clean) = (0, 0, 0, 0);
        let mut wrong = Vec::new();
        for rule in self.rules {
            for stage in stages(&family.join(format!("{rule}.yaml"))) {
                let hit = self.rule_flags(rule, &stage);
                if stage.expect.contains(&rule) {
                    expected += 1;
                    if hit {
                        detected += 1;
                    } else if !self.missed.iter().any(|&(n, _)| n == stage.name) {
                        wrong.push(format!("{} not detected", stage.name));
                    }
                }
                if stage.no_expect.contains(&rule) {
                    clean_expected += 1;
                    if hit {
                        wrong.push(format!("{} flagged", stage.name));
                    } else {
                        clean += 1;
                    }
                }
            }
        }
        println!("{a}/{b} expect_ids detected: {detected}/{expected}");
        println!("{a}/{b} no_expect_ids clean: {clean}/{clean_expected}");
        assert!(expected > 0, "no tests read from {}", family.display());
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// The CRS authors' false-positive guard: wherever any test says one
    /// of the rules must not fire, its targets pass.
    pub fn no_expect_anywhere(&self, dir: &Path) {
        let mut files = Vec::new();
        yaml_files(dir, &mut files);
        let (mut checked, mut flagged) = (0, Vec::new());
        for file in &files {
            for stage in stages(file) {
                for rule in self.rules {
                    if stage.no_expect.contains(&rule) {
                        checked += 1;
                        if self.rule_flags(rule, &stage) {
                            flagged.push(format!("{} ({rule})", stage.name));
                        }
                    }
                }
            }
        }
        println!(
            "no_expect guards checked: {checked} in {} files",
            files.len()
        );
        assert!(
            flagged.is_empty(),
            "flagged despite no_expect_ids: {flagged:#?}"
        );
    }

    /// Informational: how many positive tests of the family's other rules
    /// the operator flags on their ARGS, and how many stages outside the
    /// family it flags on the first rule's targets (a false-positive
    /// signal).
    pub fn other_rules_informational(&self, dir: &Path) {
        let family = dir.join(self.family);
        let mut files = Vec::new();
        yaml_files(&family, &mut files);
        let (mut total, mut hits) = (0, 0);
        for file in &files {
            let stem = file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let Ok(rule) = stem.parse::<i64>() else {
                continue;
            };
            if self.rules.contains(&rule) {
                continue;
            }
            let (mut t, mut h) = (0, 0);
            for stage in stages(file).iter().filter(|s| s.expect.contains(&rule)) {
                t += 1;
                let args = stage.args();
                if args.iter().any(|(n, v)| self.flags(n) || self.flags(v)) {
                    h += 1;
                } else if std::env::var_os(self.show_misses).is_some() {
                    for (n, v) in &args {
                        println!(
                            "    miss {}: {:?} = {:?}",
                            stage.name,
                            self.shown(n),
                            self.shown(v)
                        );
                    }
                }
            }
            println!("  {rule}: {h}/{t}");
            total += t;
            hits += h;
        }
        println!("other rules' expect_ids tests flagged on ARGS: {hits}/{total}");

        // The family's folder is `REQUEST-942-…` for rules 942xxx.
        let prefix = format!("{}-", self.rules[0] / 1000);
        let mut all = Vec::new();
        yaml_files(dir, &mut all);
        let (mut stages_seen, mut other_hits) = (0, Vec::new());
        for file in all
            .iter()
            .filter(|f| !f.to_string_lossy().contains(&prefix))
        {
            for stage in stages(file) {
                stages_seen += 1;
                if let Some(v) = (self.targets)(self.rules[0], &stage)
                    .iter()
                    .find(|v| self.flags(v))
                {
                    other_hits.push(format!("{}: {:?}", stage.name, self.shown(v)));
                }
            }
        }
        println!(
            "stages outside the family flagged on {} targets: {}/{stages_seen}: {other_hits:#?}",
            self.rules[0],
            other_hits.len()
        );
    }
}
