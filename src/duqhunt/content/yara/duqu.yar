/*
  duqhunt content rules: strings from Duqu (2011) drivers and loaders as published by
  CrySyS Lab (2011-10-14) and Symantec (W32.Duqu v1.4, 2011-11-23). Text strings only.
*/

rule duqhunt_duqu_fake_vendor_driver
{
    meta:
        id = "DQ-YARA-001"
        description = "version information of Duqu loader drivers posing as hardware drivers"
        source = "CrySyS 2011; Symantec 2011"
        confidence = "0.8"
    strings:
        $jm = "JMicron Volume Snapshot" ascii wide nocase
        $cm = "C-Media Electronics Incorporation" ascii wide
        $ibm = "IBM ServeRAID Contoller" ascii wide
    condition:
        uint16(0) == 0x5A4D and any of them
}

rule duqhunt_duqu_device_names
{
    meta:
        id = "DQ-YARA-002"
        description = "device names created by the Duqu loader driver"
        source = "CrySyS 2011"
        confidence = "0.9"
    strings:
        $d1 = "\\Device\\Gpd0" ascii wide
        $d2 = "\\DosDevices\\GpdDev" ascii wide
        $d3 = "\\Device\\Gpd1" ascii wide
    condition:
        any of them
}
