//! The few calls of systemd's D-Bus API the driver needs (org.freedesktop.systemd1.Manager),
//! over zbus's blocking API and the system bus. Not systemd's private socket, which go-systemd
//! uses as root: systemd's messages there carry a sender zbus 5 rejects (its reader thread
//! panics and the call never returns), and every systemd host runs a system bus anyway.

use zbus::blocking::connection::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use super::properties::Property;
use crate::error::CgroupError;

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

pub(super) struct Bus {
    conn: Connection,
}

impl Bus {
    pub(super) fn connect() -> Result<Bus, CgroupError> {
        let conn = Connection::system().map_err(|e| err("", "connecting to the system bus", e))?;
        Ok(Bus { conn })
    }

    fn call<B>(
        &self,
        path: &str,
        iface: &str,
        method: &str,
        body: &B,
    ) -> zbus::Result<zbus::Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.conn
            .call_method(Some(SYSTEMD), path, Some(iface), method, body)
    }

    /// `StartTransientUnit(name, "replace", properties, [])`: queues the start job.
    pub(super) fn start_transient_unit(
        &self,
        name: &str,
        props: Vec<Property>,
    ) -> Result<(), CgroupError> {
        let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
        self.call(
            MANAGER_PATH,
            MANAGER,
            "StartTransientUnit",
            &(name, "replace", props, aux),
        )
        .map(drop)
        .map_err(|e| err(name, "StartTransientUnit", e))
    }

    /// `SetUnitProperties(name, true, properties)`: runtime-only, like the transient unit.
    pub(super) fn set_unit_properties(
        &self,
        name: &str,
        props: Vec<Property>,
    ) -> Result<(), CgroupError> {
        self.call(
            MANAGER_PATH,
            MANAGER,
            "SetUnitProperties",
            &(name, true, props),
        )
        .map(drop)
        .map_err(|e| err(name, "SetUnitProperties", e))
    }

    /// `StopUnit(name, "replace")`; a unit systemd no longer knows is fine.
    pub(super) fn stop_unit(&self, name: &str) -> Result<(), CgroupError> {
        match self.call(MANAGER_PATH, MANAGER, "StopUnit", &(name, "replace")) {
            Ok(_) => Ok(()),
            Err(zbus::Error::MethodError(e, _, _)) if e.as_str() == NO_SUCH_UNIT => Ok(()),
            Err(e) => Err(err(name, "StopUnit", e)),
        }
    }

    /// The unit's ActiveState (`active`, `failed`, ...), for error messages.
    pub(super) fn active_state(&self, name: &str) -> Result<String, CgroupError> {
        let reply = self
            .call(MANAGER_PATH, MANAGER, "GetUnit", &(name,))
            .map_err(|e| err(name, "GetUnit", e))?;
        let path: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| err(name, "GetUnit reply", e))?;
        let reply = self
            .call(
                path.as_str(),
                "org.freedesktop.DBus.Properties",
                "Get",
                &("org.freedesktop.systemd1.Unit", "ActiveState"),
            )
            .map_err(|e| err(name, "Get ActiveState", e))?;
        let value: OwnedValue = reply
            .body()
            .deserialize()
            .map_err(|e| err(name, "ActiveState reply", e))?;
        String::try_from(value).map_err(|e| err(name, "ActiveState value", e.into()))
    }
}

fn err(unit: &str, op: &'static str, e: zbus::Error) -> CgroupError {
    CgroupError::Systemd {
        unit: unit.to_owned(),
        op,
        reason: e.to_string(),
    }
}
