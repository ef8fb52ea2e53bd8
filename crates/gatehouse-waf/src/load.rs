//! Loading an OWASP CRS install the way nginx users include it:
//! `crs-setup.conf`, then the settings given in the gateway's config, then
//! `rules/*.conf` in name order.

use crate::parse::{parse_file, parse_str, Directive, ParseError};
use std::path::{Path, PathBuf};

/// The `crs:` settings of the `waf` plugin, as CRS variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrsSettings {
    /// The CRS folder: `crs-setup.conf` (or its `.example`) and `rules/`.
    pub path: PathBuf,
    pub paranoia_level: u8,
    /// Defaults to `paranoia_level`.
    pub detection_paranoia_level: Option<u8>,
    pub inbound_anomaly_threshold: Option<u32>,
    pub outbound_anomaly_threshold: Option<u32>,
    /// Any other `tx.` variable of crs-setup (`allowed_methods`...).
    pub variables: Vec<(String, String)>,
}

impl CrsSettings {
    pub fn new(path: impl Into<PathBuf>, paranoia_level: u8) -> CrsSettings {
        CrsSettings {
            path: path.into(),
            paranoia_level,
            detection_paranoia_level: None,
            inbound_anomaly_threshold: None,
            outbound_anomaly_threshold: None,
            variables: Vec::new(),
        }
    }

    /// The settings as one SecAction, after crs-setup so it wins.
    fn setup_rule(&self) -> String {
        let mut vars = vec![
            (
                "blocking_paranoia_level".to_string(),
                self.paranoia_level.to_string(),
            ),
            (
                "detection_paranoia_level".to_string(),
                self.detection_paranoia_level
                    .unwrap_or(self.paranoia_level)
                    .max(self.paranoia_level)
                    .to_string(),
            ),
        ];
        if let Some(t) = self.inbound_anomaly_threshold {
            vars.push(("inbound_anomaly_score_threshold".into(), t.to_string()));
        }
        if let Some(t) = self.outbound_anomaly_threshold {
            vars.push(("outbound_anomaly_score_threshold".into(), t.to_string()));
        }
        vars.extend(self.variables.iter().cloned());
        let setvars: Vec<String> = vars
            .iter()
            .map(|(k, v)| format!("setvar:'tx.{k}={}'", v.replace('\'', "\\'")))
            .collect();
        format!(
            "SecAction \"id:900008,phase:1,pass,nolog,t:none,{}\"\n",
            setvars.join(",")
        )
    }
}

/// The setup file the CRS folder has: the operator's copy, else the example.
pub fn crs_setup_file(dir: &Path) -> Option<PathBuf> {
    ["crs-setup.conf", "crs-setup.conf.example"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// Parses a CRS install with `settings`; errors name file and line.
pub fn crs_directives(settings: &CrsSettings) -> Result<Vec<Directive>, Vec<ParseError>> {
    let dir = &settings.path;
    let err = |message: String| {
        vec![ParseError {
            file: dir.display().to_string(),
            line: 0,
            message,
        }]
    };
    let setup = crs_setup_file(dir)
        .ok_or_else(|| err("no crs-setup.conf or crs-setup.conf.example here".into()))?;
    let rules_dir = dir.join("rules");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&rules_dir)
        .map_err(|e| err(format!("cannot read {}: {e}", rules_dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(format!("no .conf files in {}", rules_dir.display())));
    }
    let mut out = parse_file(&setup)?;
    out.extend(parse_str(&settings.setup_rule(), "gatehouse:crs")?);
    let mut errors = Vec::new();
    for f in files {
        match parse_file(&f) {
            Ok(d) => out.extend(d),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
